"""The three Lambda handlers of the vote pipeline, their contract and their AWS adapters.

Imports only the standard library, boto3 and what the function zips vendor (msgspec);
never ``votectl``.
"""
