"""HTTP routes of the cloud service, one module per kind of thing."""
