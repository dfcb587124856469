"""What users see: the command line, the console display, the views of a project, the shell."""
