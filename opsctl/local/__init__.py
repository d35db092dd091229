"""Embedded local runtime: moto-backed AWS, a throwaway PostgreSQL, and CDK-template deployment.

Developer/operator tooling only; never shipped in the Lambda layer.
"""
