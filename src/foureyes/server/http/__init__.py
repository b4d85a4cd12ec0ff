"""What is HTTP about the server and shared by the API and the inbox: how errors are answered."""
