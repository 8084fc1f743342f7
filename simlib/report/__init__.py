"""What a manager reads: the policy briefing (HTML and PDF, English and Chinese) and terminal tables."""
