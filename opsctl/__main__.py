import sys

from opsctl.cli import main

sys.exit(main())
