"""Reading the ECG databases: `reader.read_record`, `reader.iter_records`, `catalog.print_catalog`."""
