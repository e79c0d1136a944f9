from runtime_scaffold.cli import main

main()
