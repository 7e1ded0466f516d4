"""Long work as background jobs on a Huey queue: the job record, the queue, the runner, pages, API, CLI.

Kernel infrastructure: features register their kinds of job (``rewards.jobs.registry``) and the
kernel runs them in a consumer process (``flask jobs consumer``), recording each job's state,
progress, who started it, its result or its error in the ``jobs`` table.
"""
