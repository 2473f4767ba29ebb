"""The only code that talks to AWS: DynamoDB, SQS, EventBridge, S3 and SSM."""
