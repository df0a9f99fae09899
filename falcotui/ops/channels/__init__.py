"""Where alerts come from: each Falco pod's log, its gRPC output, a NATS stream."""
