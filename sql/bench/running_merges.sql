-- running_merges: background merges in progress right now.
SELECT count() FROM system.merges
