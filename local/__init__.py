"""The local stack: an AEP emulator, moto-backed AWS, and moto's Step Functions interpreter
running the real statemachine/*.asl.json with each Lambda task dispatched in-process to
the handler template.yaml names. No AWS account, no AEP org, no Docker."""
