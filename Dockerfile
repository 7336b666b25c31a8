# Dockerfile: lands with the deployment issue. Build and run natively with scripts/dev-up for now.
