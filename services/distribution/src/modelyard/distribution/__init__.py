"""Distribution: device enrollment, deployments of released models, staged rollouts."""
