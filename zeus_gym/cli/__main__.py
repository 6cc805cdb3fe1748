"""`python -m zeus_gym.cli`: the same as the `zeus-gym` script."""

from zeus_gym.cli import main

main()
