"""Built-in executors: inline (in this process), local (a worker pool), slurm (submitit) and ray."""
