"""The AWS target: bundle, template, deploy (change sets), ops."""
