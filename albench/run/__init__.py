"""One active-learning run, start to finish: the spec that names it, the protocol, the pool and its superpixel
cache, training, evaluation, the scoring pass, checkpoints and the runner that ties the rounds together."""
