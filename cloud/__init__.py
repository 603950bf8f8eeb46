"""The cloud service: archive of records and events from patches and PCs, users, analysis in the background."""
