"""The local stack: everything that runs real processes and servers on loopback.

The demo, the tests and the benchmarks start Prometheus, Alertmanager, llm-d-inference-sim, the
exporter, a local kubelet and a webhook receiver through these modules, and build backfilled
histories with them:

- `processes`: the one process supervisor (`ProcessGroup`) and the one readiness poll (`wait_for`);
- `ports`: free loopback ports and port ranges;
- `launchers`: Prometheus, Alertmanager and llm-d-inference-sim command lines, started and ready;
- `prometheus_config`: the local Prometheus configuration (static targets labelled like Kubernetes');
- `backfill`: series as OpenMetrics, promtool's blocks (raw and from rules), installed in a TSDB;
- `rulepasses`: which recorded series each rule reads, and the passes and group order that follow;
- `backfilled`: a Prometheus over a backfilled TSDB, recorded series added pass by pass;
- `podresources_server`: the kubelet's pod-resources gRPC API on a unix socket;
- `receiver`: a webhook receiver recording what Alertmanager (or a Slack-style client) posts;
- `tenantproxy`: a reverse proxy that wants a bearer token and X-Scope-OrgID, as Mimir's gateway does.

It imports the core and the areas only; submodules are imported where used (the package imports
none of them, so a caller pays only for what it uses).
"""
