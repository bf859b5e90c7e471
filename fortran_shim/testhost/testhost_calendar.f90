!| Dates for the test host: CIME-style (ymd = yyyymmdd, tod = seconds of the day) in the
!  'noleap' or 'gregorian' calendar, the same two calendars landemu knows.
module testhost_calendar
   implicit none
   private
   public :: valid_date, add_seconds, day_of_year, days_in_year

   integer, parameter :: days_before_month(12) = &
      [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]
   integer, parameter :: month_length(12) = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

contains

   !> Is `year` a leap year in `calendar`?
   pure logical function is_leap(year, calendar)
      integer, intent(in) :: year           !! year
      character(len=*), intent(in) :: calendar !! 'noleap' or 'gregorian'
      is_leap = .false.
      if (calendar == "gregorian") &
         is_leap = mod(year, 4) == 0 .and. (mod(year, 100) /= 0 .or. mod(year, 400) == 0)
   end function is_leap

   !> Number of days in a month.
   pure integer function days_in_month(year, month, calendar)
      integer, intent(in) :: year, month
      character(len=*), intent(in) :: calendar
      days_in_month = month_length(month)
      if (month == 2 .and. is_leap(year, calendar)) days_in_month = 29
   end function days_in_month

   !> Number of days in a year.
   pure integer function days_in_year(year, calendar)
      integer, intent(in) :: year
      character(len=*), intent(in) :: calendar
      days_in_year = 365
      if (is_leap(year, calendar)) days_in_year = 366
   end function days_in_year

   !> Does (ymd, tod) name an existing instant of `calendar`?
   pure logical function valid_date(ymd, tod, calendar)
      integer, intent(in) :: ymd, tod
      character(len=*), intent(in) :: calendar
      integer :: year, month, day
      year = ymd / 10000
      month = mod(ymd / 100, 100)
      day = mod(ymd, 100)
      valid_date = (calendar == "noleap" .or. calendar == "gregorian") .and. year >= 1 .and. &
                   month >= 1 .and. month <= 12 .and. tod >= 0 .and. tod < 86400
      if (valid_date) valid_date = day >= 1 .and. day <= days_in_month(year, month, calendar)
   end function valid_date

   !> 1-based day of the year of a date.
   pure integer function day_of_year(ymd, calendar)
      integer, intent(in) :: ymd
      character(len=*), intent(in) :: calendar
      integer :: year, month
      year = ymd / 10000
      month = mod(ymd / 100, 100)
      day_of_year = days_before_month(month) + mod(ymd, 100)
      if (month > 2 .and. is_leap(year, calendar)) day_of_year = day_of_year + 1
   end function day_of_year

   !> Move (ymd, tod) forward by `seconds` (>= 0).
   pure subroutine add_seconds(ymd, tod, seconds, calendar)
      integer, intent(inout) :: ymd, tod
      integer, intent(in) :: seconds
      character(len=*), intent(in) :: calendar
      integer :: year, month, day
      year = ymd / 10000
      month = mod(ymd / 100, 100)
      day = mod(ymd, 100)
      tod = tod + seconds
      do while (tod >= 86400)
         tod = tod - 86400
         day = day + 1
         if (day > days_in_month(year, month, calendar)) then
            day = 1
            month = month + 1
            if (month > 12) then
               month = 1
               year = year + 1
            end if
         end if
      end do
      ymd = year * 10000 + month * 100 + day
   end subroutine add_seconds

end module testhost_calendar
