"""Talking to a Kubernetes cluster: apply, watch, diagnose, view, tear down.

Modules (import the one you need; this package imports nothing so ``inferctl --help`` stays fast)::

    client     KubeClient: lightkube bound to a context and namespace, plain dicts, errors that say what to do;
               its httpx transport is the single seam tests replace
    apply      server-side apply (field manager ``inferctl``) in kind order, after checking the cluster serves
               every custom kind; marks the namespace it creates (the only one ``down`` deletes)
    rollout    kubectl's readiness rules, live phases, RolloutWatcher
    diagnose   pure rules: image pulls, crashes (gated model, missing model, CUDA OOM, KV cache), OOMKilled,
               Karpenter's FailedScheduling verdicts, pending load balancer
    karpenter_messages  pure: Karpenter v1.14.1's "Failed to schedule pod, <err>" parsed per NodePool
    karpenter_state     pure: node-side failures from NodePool / EC2NodeClass / NodeClaim conditions and events
    teardown   reverse-order deletes that wait for finalizers, pods, NodeClaims and nodes; only the Secrets and
               the namespace inferctl created
    views      pure: NodePools as ``kubectl get nodepool``, nodes with requests and prices
    objects    pure helpers over API objects (quantities, times, conditions, events)
    mirror_jobs  the S3 model cache's mirror Jobs: run them before the Deployments, wait, say why one failed
"""
