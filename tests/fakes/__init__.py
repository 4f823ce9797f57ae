"""Protocol-faithful fakes of Asterisk (FastAGI client, AMI server), built from the captures in ``wire/``."""
