"""What operators see: metrics, status, logs, health."""
