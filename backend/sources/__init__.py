"""backend/sources"""
