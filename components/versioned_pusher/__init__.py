"""A Pusher executor that publishes TF Serving versions atomically and keeps the last K."""
