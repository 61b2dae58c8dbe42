"""The SLO controller: InferenceSLO objects in, one PrometheusRule each and their budgets in status out.

It sits in the application layer because it runs the same generator registry as `inferwatch
build` (inferwatch.app.generators), which is what makes its rules identical to the build's; the
areas stay pure and know nothing of Kubernetes. Modules: `crd` (the CRD from the SLO model),
`model` (an InferenceSLO's spec to the SLO model, the checks against Prometheus), `objects` (the
PrometheusRule objects), `status` (status fields and Events), `prometheus` (what it asks
Prometheus, cached), `kube` (the Kubernetes calls), `reconciler` (one step per work-queue key),
`runtime` (watches, queue, workers), `leader` (Lease leader election).
"""
