-- optimize_table: merge a table's parts now, as background merges eventually would.
-- Parameters: {table:Identifier}.
OPTIMIZE TABLE {table:Identifier} FINAL
