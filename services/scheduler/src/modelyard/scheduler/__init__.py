"""modelyard.scheduler"""
