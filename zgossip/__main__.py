from zgossip.cli import main

main()
