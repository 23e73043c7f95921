"""The AWS target's machinery: EKS + Karpenter as an inline Pulumi program, driven by the Automation API.

Modules (each imports pulumi or boto3 itself; importing this package imports neither)::

    program.py            the inline program: network -> eks -> lb_controller -> karpenter, storage, addons
    context.py            what every part of the program shares (provider, account, names, tags)
    network.py            an existing VPC's private subnets, or a new VPC; Karpenter discovery tags
    zones.py              the zone IDs EKS refuses for cluster subnets; a new VPC's zones, chosen by zone ID
    eks.py                cluster, access entries, system node group, add-ons, the Kubernetes provider
    karpenter.py          controller IAM, interruption queue and rules, Helm release, NodePools
    karpenter_reference.py  Karpenter's IAM policies and event rules, copied from its v1.14.1 template
    lb_controller.py      the AWS Load Balancer Controller (its official IAM policy, pod identity, Helm)
    storage.py            model_cache: pvc: the EBS CSI driver add-on and a gp3 StorageClass (names: storage_names.py)
    kubeconfig.py         a kubeconfig whose exec credential calls ``inferctl aws token``
    token.py              the EKS bearer token (presigned STS GetCallerIdentity)
    preflight.py          the gate: credentials, version, offerings, quotas, AMI parameters, spot role, pulumi CLI
    preflight_network.py  the gate's network checks: subnets, DNS, zones, VPC/EIP quotas, who reaches the endpoint
    amis.py               the SSM parameters Karpenter resolves each pool's AMI alias through
    endpoint_access.py    who reaches the API endpoint: the deployer's egress /32, its address inside the VPC;
                          the reachability probe and the fix its timeout names
    teardown.py           what still holds AWS resources on the cluster before destroy
    stack.py              Automation API: backend, passphrase, pulumi CLI, up/destroy with progress
    offline.py            the program under Pulumi's mocks: ``offline_plan(config)``
    leftovers.py          after destroy: instances, load balancers and log groups of the cluster
    cost_now.py           what the running platform costs this hour (status), from its nodes
    cache_bucket.py       the S3 model cache's bucket from this machine: status, warm --here, drop (any target)
    sdk.py                the aws extra's presence, boto3 sessions whose profile errors are one line
"""
