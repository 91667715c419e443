from votectl.cli.app import main

main()
