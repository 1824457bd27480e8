"""Reading and writing the user's files safely."""
