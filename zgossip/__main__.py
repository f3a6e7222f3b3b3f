from zgossip.tools.cli import main

main()
