"""``python -m inferctl``: the same CLI as the ``inferctl`` script (the EKS kubeconfig's token command runs this)."""

from inferctl.cli.app import run

if __name__ == "__main__":
    run()
