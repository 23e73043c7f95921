"""The AWS target's machinery: EKS + Karpenter as an inline Pulumi program, driven by the Automation API.

Modules (each imports pulumi or boto3 itself; importing this package imports neither)::

    program.py            the inline program: network -> eks -> karpenter -> lb_controller, stack outputs
    context.py            what every part of the program shares (provider, account, names, tags)
    network.py            an existing VPC's private subnets, or a new VPC; Karpenter discovery tags
    eks.py                cluster, access entries, system node group, add-ons, the Kubernetes provider
    karpenter.py          controller IAM, interruption queue and rules, Helm release, NodePools
    karpenter_reference.py  Karpenter's IAM policies and event rules, copied from its v1.14.1 template
    lb_controller.py      the AWS Load Balancer Controller (pod identity IAM + Helm)
    kubeconfig.py         a kubeconfig whose exec credential calls ``inferctl aws token``
    token.py              the EKS bearer token (presigned STS GetCallerIdentity)
    preflight.py          credentials, offerings, quotas, spot service-linked role, pulumi CLI
    stack.py              Automation API: backend, passphrase, pulumi CLI, up/destroy with progress
    offline.py            the program under Pulumi's mocks: ``offline_plan(config)``
    leftovers.py          after destroy: EC2 instances and load balancers still tagged for the cluster
    sdk.py                the aws extra's presence, boto3 sessions whose profile errors are one line
"""
