"""The audit log for its readers: the chain's verification and purge, the audit
administrator's search and export, and the views of personal information it records."""
