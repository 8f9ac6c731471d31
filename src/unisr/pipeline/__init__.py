"""The run layer below training and serving: the resolved config, the one batch pipeline, run folders."""
