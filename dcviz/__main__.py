import sys

from dcviz.cli import main

sys.exit(main())
