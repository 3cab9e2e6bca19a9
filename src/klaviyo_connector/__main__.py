from klaviyo_connector.cli import main

main()
