"""Amazon S3 sources read by Adobe's IAM role (source.access: iam-role): the statements that let the
role read one dataflow's files, merged into and taken out of the bucket's policy (policy.py, pure), and
the S3 calls that read and write that policy (grants.py). Beside aep/ and store/: the steps and ops use
it; it uses only spec/ and core/."""
