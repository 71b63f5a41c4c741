from rtc.cli import main

raise SystemExit(main())
