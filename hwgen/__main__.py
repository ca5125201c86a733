from hwgen.cli import main

raise SystemExit(main())
