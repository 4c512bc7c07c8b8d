from robojam.cli import main

main()
