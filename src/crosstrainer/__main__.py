"""``python -m crosstrainer ...`` (and ``accelerate launch -m crosstrainer ...``) runs the ``crosstrainer`` CLI."""

from crosstrainer.cli import main

if __name__ == "__main__":
    main()
