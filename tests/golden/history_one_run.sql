SELECT load_runs.run_id, load_runs.status, load_runs.started_at, load_runs.finished_at, load_runs.mode, load_runs.backend, load_runs.objects, load_runs.staged, load_runs.inserted, load_runs.updated, load_runs.skipped, load_runs.seconds, load_runs.error
FROM load_runs
WHERE load_runs.run_id = '0123456789abcdef0123456789abcdef'
