"""PostgreSQL access of the dataset service, one module per aggregate. Every query is scoped by org_id;
driver errors are translated into the service's errors here."""
