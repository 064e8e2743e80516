"""gonghui — 职工服务平台, a worker-services platform for trade-union federations."""
