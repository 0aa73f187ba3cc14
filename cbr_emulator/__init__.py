"""A local, faithful implementation of the CBR v3 API and the small part of IAM it needs."""
