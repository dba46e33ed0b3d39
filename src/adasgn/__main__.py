from .entry import main

if __name__ == "__main__":  # python -m adasgn ...
    raise SystemExit(main())
