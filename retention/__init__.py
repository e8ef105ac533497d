"""retention-pipeline: customer-retention analytics on Kafka, Faust and ClickHouse."""
