"""Recording and alerting rule generation: the normalization layer, the alert set and runbooks."""
