!| Forcing-like fields for the test host, computed analytically from each cell's latitude,
!  longitude and the day of the year, with realistic magnitudes and seasonal cycles:
!
!    TBOT      2 m air temperature (K): warm tropics, cold poles, a seasonal cycle whose
!              amplitude grows with latitude (opposite phase in the two hemispheres), and a
!              small longitude term so no two columns of a grid are alike.
!    FSDS      daily-mean downward shortwave (W m-2): top-of-atmosphere insolation from the
!              solar declination and the day length, times a transmissivity of 0.55..0.70.
!    PRECTmms  precipitation (kg m-2 s-1): a wet tropical belt plus a seasonal term.
!    FLDS      downward longwave (W m-2) from TBOT with an emissivity of 0.75..0.85.
!    QBOT      specific humidity (kg kg-1): 70 % relative humidity at TBOT and PSRF.
!    PSRF      surface pressure (Pa); WIND (m s-1).
!    H2OSOI    volumetric soil water (m3 m-3) on nlev layers, wetter with depth.
!
!  Also the physical ranges the host expects its exports to lie in.
module testhost_forcing
   use, intrinsic :: iso_fortran_env, only: real64
   implicit none
   private
   public :: forcing_names, forcing, export_range

   real(real64), parameter :: pi = acos(-1.0_real64)
   real(real64), parameter :: deg = pi / 180.0_real64
   real(real64), parameter :: solar_constant = 1361.0_real64 ! W m-2
   real(real64), parameter :: sigma = 5.670374419e-8_real64  ! Stefan-Boltzmann, W m-2 K-4

   !> The import fields this host can provide.
   character(len=16), parameter :: forcing_names(8) = [character(len=16) :: &
      "TBOT", "FSDS", "PRECTmms", "FLDS", "QBOT", "PSRF", "WIND", "H2OSOI"]

contains

   !> Fill values(n, nlev) with field `name` for cells at (lat, lon) on day `doy`.
   subroutine forcing(name, lat, lon, doy, days_per_year, values, known)
      character(len=*), intent(in) :: name          !! a name of forcing_names
      real(real64), intent(in) :: lat(:), lon(:)    !! cell centres (degrees)
      real(real64), intent(in) :: doy               !! day of the year (1.5 = noon, 1 Jan)
      real(real64), intent(in) :: days_per_year     !! 365 or 366
      real(real64), intent(out) :: values(:, :)     !! (cell, level)
      logical, intent(out) :: known                 !! .false. if the name is not known
      real(real64) :: season, phi, t, p
      integer :: i, k
      known = .true.
      season = 2.0_real64 * pi * doy / days_per_year
      do i = 1, size(lat)
         phi = lat(i) * deg
         t = air_temperature(lat(i), lon(i), season)
         p = 100000.0_real64 + 1000.0_real64 * cos(phi)
         select case (name)
         case ("TBOT")
            values(i, :) = t
         case ("FSDS")
            values(i, :) = (0.625_real64 + 0.075_real64 * cos(2.0_real64 * lon(i) * deg)) * &
                           daily_insolation(phi, doy, days_per_year)
         case ("PRECTmms")
            values(i, :) = (1.0_real64 + 5.0_real64 * exp(-(lat(i) / 12.0_real64)**2) + &
                            2.0_real64 * (1.0_real64 + sin(season + lon(i) * deg)) * &
                            max(0.0_real64, cos(phi))) / 86400.0_real64
         case ("FLDS")
            values(i, :) = (0.75_real64 + 0.1_real64 * cos(phi)) * sigma * t**4
         case ("QBOT")
            values(i, :) = 0.7_real64 * 0.622_real64 * saturation_vapour_pressure(t) / p
         case ("PSRF")
            values(i, :) = p
         case ("WIND")
            values(i, :) = 3.0_real64 + 2.0_real64 * abs(sin(phi)) + cos(season)
         case ("H2OSOI")
            do k = 1, size(values, 2)
               values(i, k) = 0.12_real64 + 0.02_real64 * k + &
                              0.05_real64 * sin(season + lon(i) * deg) * cos(phi)
            end do
         case default
            known = .false.
            values(i, :) = 0.0_real64
         end select
      end do
   end subroutine forcing

   !> 2 m air temperature (K).
   pure real(real64) function air_temperature(lat, lon, season)
      real(real64), intent(in) :: lat, lon, season
      real(real64) :: annual_mean, amplitude
      annual_mean = 301.0_real64 - 45.0_real64 * sin(lat * deg)**2
      amplitude = 2.0_real64 + 18.0_real64 * abs(sin(lat * deg))
      ! Coldest in mid-January in the north, mid-July in the south.
      air_temperature = annual_mean - amplitude * sign(1.0_real64, lat) * &
                        cos(season - 2.0_real64 * pi * 15.0_real64 / 365.0_real64) + &
                        1.5_real64 * sin(lon * deg)
   end function air_temperature

   !> Daily-mean top-of-atmosphere insolation (W m-2) at latitude phi (radians).
   pure real(real64) function daily_insolation(phi, doy, days_per_year)
      real(real64), intent(in) :: phi, doy, days_per_year
      real(real64) :: declination, hour_angle, distance_factor
      declination = 23.44_real64 * deg * sin(2.0_real64 * pi * (284.0_real64 + doy) / &
                                             days_per_year)
      distance_factor = 1.0_real64 + 0.033_real64 * cos(2.0_real64 * pi * doy / days_per_year)
      ! Sunset hour angle; clamped for polar day and polar night.
      hour_angle = acos(max(-1.0_real64, min(1.0_real64, -tan(phi) * tan(declination))))
      daily_insolation = solar_constant / pi * distance_factor * &
                         (hour_angle * sin(phi) * sin(declination) + &
                          cos(phi) * cos(declination) * sin(hour_angle))
   end function daily_insolation

   !> Saturation vapour pressure over water (Pa), Bolton (1980).
   pure real(real64) function saturation_vapour_pressure(t)
      real(real64), intent(in) :: t
      saturation_vapour_pressure = 611.2_real64 * exp(17.67_real64 * (t - 273.15_real64) / &
                                                      (t - 29.65_real64))
   end function saturation_vapour_pressure

   !> The physical range the host expects an export in ([-huge, huge] if unknown).
   subroutine export_range(name, lo, hi)
      character(len=*), intent(in) :: name
      real(real64), intent(out) :: lo, hi
      lo = -huge(1.0_real64)
      hi = huge(1.0_real64)
      select case (name)
      case ("LAI", "SAI", "MONTHLY_LAI", "MONTHLY_SAI", "TLAI", "TSAI")
         lo = 0.0_real64
         hi = 20.0_real64
      case ("PCT_NAT_PFT", "PCT_URBAN", "PCT_LAKE", "PCT_GLACIER", "PCT_SAND", "PCT_CLAY")
         lo = 0.0_real64
         hi = 100.0_real64
      case ("HTOP", "HBOT", "MONTHLY_HEIGHT_TOP", "MONTHLY_HEIGHT_BOT", "vegh")
         lo = 0.0_real64
         hi = 150.0_real64
      case ("TBOT")
         lo = 150.0_real64
         hi = 350.0_real64
      end select
   end subroutine export_range

end module testhost_forcing
